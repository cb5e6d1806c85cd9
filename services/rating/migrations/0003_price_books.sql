-- A partner's negotiated prices (id and flat unit price per part number), from its account event.
ALTER TABLE accounts ADD COLUMN price_book jsonb;
