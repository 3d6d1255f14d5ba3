import { Migration } from "@mikro-orm/migrations";

/**
 * The whole schema of SPEC §2. The database enforces what it can, so that no bug above it can
 * sell a seat twice or make money up: unique (schedule, seat number), balance >= 0, unique
 * idempotency keys, one payment per reservation, one live reservation per seat.
 */
export class Migration20261125000000Initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table concert (
        id serial primary key,
        title varchar(200) not null,
        venue varchar(200) not null,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`
      create table schedule (
        id serial primary key,
        concert_id int not null references concert(id) on delete cascade,
        starts_at timestamptz not null,
        total_seats int not null check (total_seats > 0)
      );`);
    this.addSql(`create index schedule_concert_idx on schedule (concert_id, starts_at);`);
    this.addSql(`
      create table seat (
        id serial primary key,
        schedule_id int not null references schedule(id) on delete cascade,
        number int not null check (number > 0),
        price int not null check (price >= 0),
        status varchar(16) not null default 'AVAILABLE' check (status in ('AVAILABLE', 'HELD', 'SOLD')),
        constraint seat_schedule_number_uq unique (schedule_id, number)
      );`);
    this.addSql(`
      create table reservation (
        id serial primary key,
        user_id varchar(64) not null,
        concert_id int not null references concert(id),
        schedule_id int not null references schedule(id),
        status varchar(16) not null check (status in ('HELD', 'CONFIRMED', 'CANCELLED', 'EXPIRED')),
        amount int not null check (amount >= 0),
        expires_at timestamptz not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`create index reservation_user_idx on reservation (user_id, created_at desc);`);
    // The sweeper scans only live holds by expiry.
    this.addSql(`create index reservation_held_expiry_idx on reservation (expires_at) where status = 'HELD';`);
    this.addSql(`
      create table reservation_seat (
        reservation_id int not null references reservation(id) on delete cascade,
        seat_id int not null references seat(id),
        number int not null,
        price int not null check (price >= 0),
        live boolean not null default true,
        primary key (reservation_id, seat_id)
      );`);
    // Invariant 1 in the database: a seat is in at most one HELD or CONFIRMED reservation.
    this.addSql(`create unique index reservation_seat_live_uq on reservation_seat (seat_id) where live;`);
    this.addSql(`
      create table wallet (
        user_id varchar(64) primary key,
        balance bigint not null default 0 check (balance >= 0),
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`
      create table ledger_entry (
        id bigserial primary key,
        user_id varchar(64) not null references wallet(user_id),
        type varchar(16) not null check (type in ('CHARGE', 'USE')),
        amount bigint not null check (amount > 0),
        balance_after bigint not null check (balance_after >= 0),
        idempotency_key varchar(128),
        payment_id int,
        created_at timestamptz not null default now(),
        constraint ledger_entry_idempotency_uq unique (user_id, idempotency_key)
      );`);
    this.addSql(`create index ledger_entry_user_idx on ledger_entry (user_id, id desc);`);
    this.addSql(`
      create table payment (
        id serial primary key,
        reservation_id int not null references reservation(id),
        user_id varchar(64) not null,
        amount bigint not null check (amount >= 0),
        status varchar(16) not null default 'COMPLETED' check (status in ('COMPLETED')),
        idempotency_key varchar(128) not null,
        paid_at timestamptz not null default now(),
        constraint payment_reservation_uq unique (reservation_id),
        constraint payment_idempotency_uq unique (user_id, idempotency_key)
      );`);
    this.addSql(`
      create table outbox_event (
        id bigserial primary key,
        event_id uuid not null unique,
        topic varchar(200) not null,
        message_key varchar(200) not null,
        payload jsonb not null,
        created_at timestamptz not null default now(),
        published_at timestamptz,
        attempts int not null default 0
      );`);
    // The relay scans only what is still to publish.
    this.addSql(`create index outbox_event_unpublished_idx on outbox_event (id) where published_at is null;`);
  }

  override async down(): Promise<void> {
    for (const table of ["outbox_event", "payment", "ledger_entry", "wallet", "reservation_seat", "reservation", "seat", "schedule", "concert"]) {
      this.addSql(`drop table if exists ${table} cascade;`);
    }
  }
}
