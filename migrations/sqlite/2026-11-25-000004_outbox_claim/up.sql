-- The outbox worker claims queued messages oldest first. With (status, next_attempt_at)
-- the planner walked every sent message in id order to find them. A partial index on
-- the queued ones stays as small as the queue, however large the table grows; the
-- claim query names the status as a literal so the planner can match it.
DROP INDEX sms_messages_due;
CREATE INDEX sms_messages_queued ON sms_messages (id) WHERE status = 'queued';
