-- SPEC §11 "Operators' door": every lift or admin write records which operator acted
-- (the name of their token in ADMIN_TOKENS), on the row it changes and on its decision.
ALTER TABLE sms_fraud_pauses ADD COLUMN lifted_by TEXT;
ALTER TABLE sms_fraud_decisions ADD COLUMN operator TEXT;
