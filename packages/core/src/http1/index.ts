export { HttpParseError } from '../errors.js';
export {
  HTTP1_MAX_HEAD_BYTES,
  Http1ResponseParser,
  type Http1ResponseParserOptions,
  type HttpParseReason,
  HttpParseReasons,
  type OnHttp1Response,
} from './response-parser.js';
