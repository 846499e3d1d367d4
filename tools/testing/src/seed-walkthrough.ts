/** What the seed's walkthrough expects: GET /accounts with the two accounts, before and after every kill. */
export const SEED_BODY = '{"accounts":["john-account","mary-account"]}';
