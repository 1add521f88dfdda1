DROP TABLE event_tickets;
DROP TABLE events;
