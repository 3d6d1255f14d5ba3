/**
 * Moleculer broker configuration, read by moleculer-runner (`npm run start`/`npm run dev`).
 * All values come from lib/config.ts (environment variables with local defaults).
 */
import { getConfig } from "./lib/config";
import { brokerOptions } from "./lib/broker-options";

const brokerConfig = brokerOptions(getConfig());

export = brokerConfig;
