-- The pet table the mission defines: name, owner and species VARCHAR(20), sex CHAR(1).
--
-- name is the primary key: the API finds one pet by its name, so the name is unique, and the
-- clustered index makes that lookup a single B-tree descent at any table size.
-- utf8mb4_bin (in MySQL 8.0 and MariaDB alike) compares code points: case-sensitive, no accent
-- folding. See docs/lookup-rule.md for why trailing spaces still cannot match another pet.
-- One statement per migration file: MySQL commits DDL at once, so a file that fails part way
-- cannot leave half of itself applied (docs/migrations.md).
CREATE TABLE pet (
    name VARCHAR(20) NOT NULL,
    owner VARCHAR(20) NULL,
    species VARCHAR(20) NULL,
    sex CHAR(1) NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
