DROP TABLE rate_counters;
DROP TABLE refresh_tokens;
DROP TABLE phone_history;
DROP TABLE phone_numbers;
DROP TABLE users;
