import { WorkerQuestions } from '../src/workers/worker-questions';

test('a question resolves once every worker answered, in worker order; a worker without an answer is left out', async () => {
  const q = new WorkerQuestions();
  const sent: Array<[number, number]> = [];
  const p = q.ask([1, 2, 3], 5000, (w, id) => sent.push([w, id]));
  const id = sent[0]![1];
  expect(sent).toEqual([[1, id], [2, id], [3, id]]);
  q.answered(id, 2, 202, { n: 2 });
  q.answered(id, 2, 202, { n: 99 }); // a second answer from the same worker is ignored
  q.answered(id, 3, 303, undefined); // no answerer there
  q.answered(id + 1, 1, 101, { n: 0 }); // another question's id
  q.answered(id, 1, 101, { n: 1 });
  await expect(p).resolves.toEqual([
    { workerId: 1, pid: 101, payload: { n: 1 } },
    { workerId: 2, pid: 202, payload: { n: 2 } },
  ]);
});

test('a worker that exits stops being waited for; one that stays silent is left out at the timeout', async () => {
  const q = new WorkerQuestions();
  let id = 0;
  const p = q.ask([1, 2], 5000, (_w, i) => (id = i));
  q.answered(id, 1, 11, 'one');
  q.gone(2);
  await expect(p).resolves.toEqual([{ workerId: 1, pid: 11, payload: 'one' }]);
  const silent = q.ask([1, 2], 50, (_w, i) => (id = i));
  q.answered(id, 2, 22, 'two');
  await expect(silent).resolves.toEqual([{ workerId: 2, pid: 22, payload: 'two' }]);
  await expect(q.ask([], 50, () => {})).resolves.toEqual([]);
});
