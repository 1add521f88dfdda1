-- The deleted rows cannot come back; nothing to undo.
SELECT 1;
