DROP TABLE sms_fraud_decisions;
DROP TABLE sms_fraud_pauses;
