-- Prepaid settings of an account: the low-balance threshold, and a mode switch waiting for the
-- account's next metering point (section 8): `mode` is the mode at opening or at the last switch
-- that took effect; `pending_mode` takes over at `pending_at`.
ALTER TABLE accounts ADD COLUMN low_balance_threshold numeric NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN pending_mode text CHECK (pending_mode IN ('subscription', 'prepaid'));
ALTER TABLE accounts ADD COLUMN pending_at timestamptz;
