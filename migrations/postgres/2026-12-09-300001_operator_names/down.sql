ALTER TABLE sms_fraud_decisions DROP COLUMN operator;
ALTER TABLE sms_fraud_pauses DROP COLUMN lifted_by;
