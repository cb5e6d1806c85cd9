-- A partner's negotiated prices (PriceBookV1 as JSON), passed on to rating with the account.
ALTER TABLE accounts ADD COLUMN price_book jsonb;
