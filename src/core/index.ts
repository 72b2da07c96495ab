export {
  type ApiMethod,
  type ApiOperation,
  type ApiOperationSpec,
  type ApiTable,
  defineApi,
  fillPath,
  type MediaResponse,
  pathParameters,
  routeOptions,
} from "./api-contract.js";
export { type Clock, manualClock, systemClock } from "./clock.js";
export {
  CLIENT_ENV,
  type LoadConfigInput,
  loadConfig,
  SETTINGS,
  type SettingKey,
  type SkalaConfig,
} from "./config.js";
export { csvErrorMessage } from "./csv-errors.js";
export { type CursorPosition, decodeCursor, decodeIntegerCursor, encodeCursor } from "./cursor.js";
export { DATATYPES, type Datatype, INTEGER_DATATYPES, NUMERIC_DATATYPES } from "./datatypes.js";
export {
  ERROR_CATALOGUE,
  ERROR_CODES,
  type ErrorCode,
  type ErrorDetails,
  isSkalaError,
  SkalaError,
  type SkalaErrorOptions,
  type ValidationIssue,
  validationError,
} from "./errors.js";
export { newId } from "./ids.js";
export { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json.js";
export { jsonSyntaxError, parseJsonText } from "./json-text.js";
export { err, ok, type Result } from "./result.js";
