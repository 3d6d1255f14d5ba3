import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";

export interface ConcertView {
  id: number;
  title: string;
  venue: string;
}

export async function listConcerts(em: EntityManager): Promise<ConcertView[]> {
  return em.execute<ConcertView[]>("select id, title, venue from concert order by id");
}

export async function getConcert(em: EntityManager, concertId: number): Promise<ConcertView> {
  const [concert] = await em.execute<ConcertView[]>("select id, title, venue from concert where id = ?", [concertId]);
  if (!concert) throw domainError("CONCERT_NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  return concert;
}
