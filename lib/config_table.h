/* The one declaration of every setting: field, environment variable, type,
 * default, bounds (integers only) and meaning. config.c expands this table
 * into the config struct, the loader, --help and the docs table that
 * `make test` compares with docs/configuration.md.
 *
 * Types: STR (plain text), SECRET (text never printed; no committed default),
 * INT (signed 64-bit, checked against MIN..MAX), BOOL (true/false/1/0). */
/* clang-format off */
/*      field                       env                           type    default                    min  max         meaning */
SETTING(log_level,                  "LOG_LEVEL",                  STR,    "info",                    0,   0,          "Lowest level written to the JSON log: debug, info, warn or error.")
SETTING(http_bind,                  "HTTP_BIND",                  STR,    "127.0.0.1",               0,   0,          "Address ingest listens on; 0.0.0.0 behind a load balancer.")
SETTING(http_port,                  "HTTP_PORT",                  INT,    "8080",                    1,   65535,      "TCP port of ingest.")
SETTING(http_threads,               "HTTP_THREADS",               INT,    "8",                       1,   1024,       "Threads in ingest's libmicrohttpd pool (each runs its own epoll loop).")
SETTING(http_max_connections,       "HTTP_MAX_CONNECTIONS",       INT,    "4096",                    1,   1000000,    "Open client connections ingest accepts before refusing new ones.")
SETTING(http_idle_timeout_s,        "HTTP_IDLE_TIMEOUT_S",        INT,    "15",                      1,   3600,       "A connection that sends nothing for this long is closed (cuts off slow clients).")
SETTING(http_request_timeout_s,     "HTTP_REQUEST_TIMEOUT_S",     INT,    "60",                      1,   3600,       "Longest time a request body may take to arrive; slower uploads get 408.")
SETTING(http_max_header_bytes,      "HTTP_MAX_HEADER_BYTES",      INT,    "16384",                   1024, 1048576,   "Most bytes of request line and headers; larger requests get 431.")
SETTING(http_max_json_bytes,        "HTTP_MAX_JSON_BYTES",        INT,    "1048576",                 1024, 67108864,  "Largest JSON or form body a route accepts; larger bodies get 413.")
SETTING(database_url,               "DATABASE_URL",               SECRET, "",                        0,   0,          "libpq connection string of the PostgreSQL database (may hold a password).")
SETTING(db_pool_size,               "DB_POOL_SIZE",               INT,    "8",                       1,   512,        "PostgreSQL connections each process keeps open.")
SETTING(redis_url,                  "REDIS_URL",                  STR,    "redis://127.0.0.1:6379/0", 0,  0,          "Redis address: redis://[:password@]host:port/db.")
SETTING(redis_pool_size,            "REDIS_POOL_SIZE",            INT,    "8",                       1,   512,        "Redis connections each process keeps open.")
SETTING(redis_timeout_ms,           "REDIS_TIMEOUT_MS",           INT,    "1000",                    10,  60000,      "Connect and command timeout towards Redis.")
SETTING(kafka_brokers,              "KAFKA_BROKERS",              STR,    "127.0.0.1:9092",          0,   0,          "Kafka bootstrap servers, comma separated.")
SETTING(kafka_delivery_timeout_ms,  "KAFKA_DELIVERY_TIMEOUT_MS",  INT,    "5000",                    100, 300000,     "How long a produce waits for the broker's acknowledgement before it is reported as failed.")
SETTING(kafka_session_timeout_ms,   "KAFKA_SESSION_TIMEOUT_MS",   INT,    "10000",                   1000, 300000,    "Consumer group session timeout; a dead worker's partitions move after this long.")
SETTING(kafka_topic_test,           "KAFKA_TOPIC_TEST",           STR,    "smartcart.test",          0,   0,          "Topic of the runtime self-test worker role (integration tests).")
SETTING(worker_max_attempts,        "WORKER_MAX_ATTEMPTS",        INT,    "5",                       1,   100,        "Attempts of a message with transient failures before it goes to <topic>.dlq.")
SETTING(worker_backoff_initial_ms,  "WORKER_BACKOFF_INITIAL_MS",  INT,    "200",                     1,   600000,     "First retry delay; doubles per attempt.")
SETTING(worker_backoff_max_ms,      "WORKER_BACKOFF_MAX_MS",      INT,    "5000",                    1,   3600000,    "Upper bound of the retry delay.")
SETTING(s3_endpoint,                "S3_ENDPOINT",                STR,    "http://127.0.0.1:4569",   0,   0,          "S3 API endpoint (R2: https://<account>.r2.cloudflarestorage.com); path-style URLs.")
SETTING(s3_region,                  "S3_REGION",                  STR,    "auto",                    0,   0,          "SigV4 region (R2: auto).")
SETTING(s3_bucket,                  "S3_BUCKET",                  STR,    "smartcart",               0,   0,          "Bucket holding every object of the store.")
SETTING(s3_access_key_id,           "S3_ACCESS_KEY_ID",           SECRET, "",                        0,   0,          "S3 access key id.")
SETTING(s3_secret_access_key,       "S3_SECRET_ACCESS_KEY",       SECRET, "",                        0,   0,          "S3 secret access key.")
SETTING(s3_timeout_ms,              "S3_TIMEOUT_MS",              INT,    "10000",                   100, 600000,     "Whole-request timeout of one S3 call.")
SETTING(public_url,                 "CLOUDFLARE_R2_PUBLIC_URL",   STR,    "http://127.0.0.1:4569/smartcart/", 0, 0,   "Base of public object URLs; public URL = this + key.")
SETTING(jwt_secret,                 "JWT_SECRET",                 SECRET, "",                        0,   0,          "HS256 key for access tokens, at least 32 bytes.")
SETTING(jwt_ttl_s,                  "JWT_TTL_S",                  INT,    "3600",                    60,  2592000,    "Lifetime of a user access token.")
SETTING(password_min_length,        "PASSWORD_MIN_LENGTH",        INT,    "8",                       8,   1024,       "Shortest password /auth/register accepts.")
SETTING(password_max_length,        "PASSWORD_MAX_LENGTH",        INT,    "256",                     8,   4096,       "Longest password accepted (bounds hashing work per request).")
SETTING(default_tenant,             "DEFAULT_TENANT",             STR,    "default",                 0,   0,          "Slug of the tenant new users join when registering.")
/* clang-format on */
