import { FnvHash, Ketama, LeastConn, Maglev, P2cEwma, Random, RoundRobin, type SelectionAlgorithm } from '@pingora-ts/load-balancing';
import type { UpstreamsConf } from './lb-conf';

/** The algorithm of `upstreams.selection`. */
export function selectionFor(selection: UpstreamsConf['selection']): SelectionAlgorithm {
  switch (selection) {
    case 'random':
      return new Random();
    case 'fnv':
      return new FnvHash();
    case 'ketama':
      return new Ketama();
    case 'maglev':
      return new Maglev();
    case 'least_conn':
      return new LeastConn();
    case 'p2c_ewma':
      return new P2cEwma();
    default:
      return new RoundRobin();
  }
}
