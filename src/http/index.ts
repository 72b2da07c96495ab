export { type AppDependencies, buildApp, type SkalaApp } from "./app.js";
export { HTTP_STATUS } from "./error-handler.js";
export { type ErrorBody, ErrorEnvelope, Health, NotReady, Ready } from "./schemas.js";
