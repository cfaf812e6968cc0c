DROP TABLE ticket_resends;
