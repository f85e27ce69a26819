CREATE TABLE IF NOT EXISTS users (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  email         VARCHAR(254)    NOT NULL,
  nickname      VARCHAR(50)     NOT NULL,
  name          VARCHAR(100)    NOT NULL,
  gender        CHAR(1)         NOT NULL,
  birth_date    DATE            NOT NULL,
  password_hash VARCHAR(255)    NOT NULL,
  is_admin      BOOLEAN         NOT NULL DEFAULT FALSE,
  created_at    DATETIME(6)     NOT NULL,
  updated_at    DATETIME(6)     NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_email (email),
  UNIQUE KEY users_nickname (nickname)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS posts (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id    BIGINT UNSIGNED NOT NULL,
  title      VARCHAR(100)    NOT NULL,
  body       MEDIUMTEXT      NOT NULL,
  views      BIGINT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6)     NOT NULL,
  updated_at DATETIME(6)     NOT NULL,
  PRIMARY KEY (id),
  KEY posts_user_id (user_id, id),
  CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per state-changing action, written in the transaction of the change it records.
-- user_id and post_id carry no foreign key: the log outlives withdrawn users and deleted posts.
-- (occurred_at, id) serves the export's window read: a range scan of [start, end) that streams
-- in (occurred_at, id) order with no sort.
CREATE TABLE IF NOT EXISTS activity_log (
  id          BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT,
  occurred_at DATETIME(6)      NOT NULL,
  request_id  VARCHAR(64)      NOT NULL,
  user_id     BIGINT UNSIGNED  NULL,
  action      VARCHAR(32)      NOT NULL,
  method      VARCHAR(8)       NOT NULL,
  route       VARCHAR(128)     NOT NULL,
  path        VARCHAR(512)     NOT NULL,
  status      SMALLINT UNSIGNED NOT NULL,
  post_id     BIGINT UNSIGNED  NULL,
  client_ip   VARCHAR(45)      NOT NULL,
  user_agent  VARCHAR(512)     NOT NULL,
  email       VARCHAR(254)     NULL,
  message     VARCHAR(255)     NOT NULL,
  PRIMARY KEY (id),
  KEY activity_log_window (occurred_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
