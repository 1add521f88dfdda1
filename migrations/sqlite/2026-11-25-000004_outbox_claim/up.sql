-- The outbox worker claims unsent queued messages oldest first. With (status,
-- next_attempt_at) the planner walked every sent message to find them. This partial
-- index holds only what the claim looks for, in the order it wants it: a plain index
-- scan that stops after one batch. The claim query names the status as a literal so
-- the planner can match the predicate.
DROP INDEX sms_messages_due;
CREATE INDEX sms_messages_queued ON sms_messages (id) WHERE status = 'queued' AND provider_sid IS NULL;
