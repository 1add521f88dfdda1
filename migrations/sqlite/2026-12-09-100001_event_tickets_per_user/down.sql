DROP INDEX event_tickets_user;
