import { getConfig } from "../../lib/config";
import type { DataPlatformRoute } from "./data-platform-consumer";

/** Topics the data platform is fed from, the platform's path for each, and their dead-letter topics. */
export function dataPlatformRoutes(): DataPlatformRoute[] {
  const config = getConfig();
  return [
    { topic: config.kafkaTopicPaymentCompleted, path: "/reservations", dlqTopic: config.kafkaTopicPaymentCompletedDlq },
    { topic: config.kafkaTopicPaymentRefunded, path: "/refunds", dlqTopic: config.kafkaTopicPaymentRefundedDlq },
  ];
}
