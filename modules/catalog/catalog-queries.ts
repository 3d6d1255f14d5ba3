import type { EntityManager } from "@mikro-orm/postgresql";

export interface ConcertView {
  id: number;
  title: string;
  venue: string;
}

export async function listConcerts(em: EntityManager): Promise<ConcertView[]> {
  return em.execute<ConcertView[]>("select id, title, venue from concert order by id");
}
