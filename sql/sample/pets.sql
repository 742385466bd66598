-- Sample pets for local use only (make run). Never part of a migration.
-- INSERT IGNORE keeps this file safe to load again over data that is already there.
INSERT IGNORE INTO pet (name, owner, species, sex) VALUES
('Fluffy', 'Harold', 'cat', 'f'),
('Claws', 'Gwen', 'cat', 'm'),
('Buffy', 'Harold', 'dog', 'f'),
('Fang', 'Benny', 'dog', 'm'),
('Bowser', 'Diane', 'dog', 'm'),
('Chirpy', 'Gwen', 'bird', 'f'),
('Whistler', 'Gwen', 'bird', NULL),
('Slim', 'Benny', 'snake', 'm'),
('Puffball', 'Diane', 'hamster', 'f'),
('Zoë', 'Ana', 'cat', 'f'),
('Mr. Whiskers 🐈', 'Ana', 'cat', 'm'),
-- The smoke test's pet, as sql/aws/canary.sql puts it in every AWS stage.
('Smokey', 'pets-pipeline', 'canary', NULL);
