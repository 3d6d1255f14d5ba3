import { ConcertSchema } from "../../modules/catalog/models/concert";
import { ScheduleSchema } from "../../modules/catalog/models/schedule";
import { SeatSchema } from "../../modules/catalog/models/seat";
import { ReservationSchema } from "../../modules/reservations/models/reservation";
import { ReservationSeatSchema } from "../../modules/reservations/models/reservation-seat";
import { WalletSchema } from "../../modules/points/models/wallet";
import { LedgerEntrySchema } from "../../modules/points/models/ledger-entry";
import { PaymentSchema } from "../../modules/payments/models/payment";
import { OutboxEventSchema } from "../../modules/payments/models/outbox-event";
import { QueueControlSchema } from "../../modules/queue/models/queue-control";

/** Every entity: together they are the one source of the schema (migrations are generated from them). */
export const entities = [
  ConcertSchema,
  ScheduleSchema,
  SeatSchema,
  ReservationSchema,
  ReservationSeatSchema,
  WalletSchema,
  LedgerEntrySchema,
  PaymentSchema,
  OutboxEventSchema,
  QueueControlSchema,
];
