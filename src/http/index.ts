export { type AppDependencies, buildApp, type SkalaApp } from "./app.js";
export { type ErrorBody, HTTP_STATUS } from "./error-handler.js";
