DROP TABLE queue_done;
DROP TABLE queue_advances;
DROP TABLE queue_line;
