-- A run walks its accounts in id order; the cursor (the last account id of the last committed
-- chunk) lets each chunk start with an index range scan instead of re-reading every account.
ALTER TABLE runs ADD COLUMN cursor text;
