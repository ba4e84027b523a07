//! The ledger's tables as SQLite DDL, shared by both backends: SQLite runs it as written (the
//! baseline's steps around it add what older ledgers lack), PostgreSQL after
//! `postgres::dialect_ddl` (BIGINT integers, identity ids, BYTEA).

/// `files` as version 1 has it (also the target of the rebuild of older ones).
pub(super) const FILES: &str = "CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'processed', 'duplicate', 'quarantined', 'waiting', 'failed')),
    reason TEXT,
    duplicate_of INTEGER REFERENCES files(id),
    correction_of INTEGER REFERENCES files(id),
    stored_path TEXT,
    -- The business date computed at the claim (NULL when the name gives none, or in rows
    -- claimed before it was recorded and not known from a run).
    business_date TEXT
)";

pub(super) const FILES_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS files_by_content ON files (pipeline, sha256);
CREATE INDEX IF NOT EXISTS files_by_name ON files (pipeline, name);";

pub(super) const CORE: &str = "
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT UNIQUE,
    pipeline TEXT NOT NULL,
    business_date TEXT,
    file_id INTEGER REFERENCES files(id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'rejected', 'failed')),
    trigger TEXT NOT NULL CHECK (trigger IN ('file', 'rerun')),
    actor TEXT,
    reason TEXT,
    rerun_of TEXT,
    rows INTEGER,
    rows_set_aside INTEGER,
    issues INTEGER,
    counts TEXT,
    archive_path TEXT,
    message TEXT,
    -- 'pending' from the run's end until its exception report is archived and queued (then
    -- 'done'), so a crash in between is repaired from the archived report.json.
    report_state TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_date ON runs (pipeline, business_date);
CREATE TABLE IF NOT EXISTS issues (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    file TEXT NOT NULL,
    line INTEGER,
    column_name TEXT,
    value TEXT,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_by_run ON issues (run_id);
CREATE TABLE IF NOT EXISTS outbound (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    written_at TEXT NOT NULL,
    -- Where the output was staged (relative to the home) until `published_at`; NULL in rows
    -- written before outputs were staged (published as they were written).
    temp_path TEXT,
    published_at TEXT
);
CREATE TABLE IF NOT EXISTS source_status (
    pipeline TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    last_ok_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    pipeline TEXT NOT NULL,
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    -- 1: delivered whatever the run's end (997s); 0: only once the run succeeded.
    always INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    delivered_at TEXT,
    outcome TEXT,
    UNIQUE (run_id, destination, name)
);";

pub(super) const REMOTE_ACTIONS: &str = "CREATE TABLE IF NOT EXISTS remote_actions (
            id INTEGER PRIMARY KEY,
            pipeline TEXT NOT NULL,
            source TEXT NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime INTEGER NOT NULL,
            -- 'delete', 'move:<folder>' or 'delete-marker:<marker name>'
            action TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dropped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            done_at TEXT,
            UNIQUE (pipeline, name, size, mtime, action)
        );";

pub(super) const INTERCHANGES: &str = "CREATE TABLE IF NOT EXISTS x12_interchanges_received (
            sender TEXT NOT NULL,
            control TEXT NOT NULL,
            file TEXT NOT NULL,
            run_id TEXT NOT NULL,
            accepted INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (sender, control)
        );";

pub(super) const MAIL_QUEUE: &str = "CREATE TABLE IF NOT EXISTS mail_queue (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            pipeline TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            envelope_from TEXT NOT NULL,
            recipients TEXT NOT NULL,          -- JSON array of addresses
            message BLOB NOT NULL,             -- the formatted RFC 5322 message
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,  -- unix seconds, UTC
            last_error TEXT,
            created_at INTEGER NOT NULL,
            sent_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS mail_queue_due ON mail_queue (state, next_attempt_at);
        CREATE TABLE IF NOT EXISTS mail_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tag TEXT NOT NULL              -- random, once per ledger: part of every Message-ID
        );";

pub(super) const DAEMON: &str = "CREATE TABLE IF NOT EXISTS daemon_pipelines (
            pipeline TEXT PRIMARY KEY,
            last_scheduled_run TEXT,
            expected_since TEXT
        );
        CREATE TABLE IF NOT EXISTS late_alerts (
            pipeline TEXT NOT NULL,
            window_date TEXT NOT NULL,
            deadline TEXT NOT NULL,
            raised_at TEXT NOT NULL,
            PRIMARY KEY (pipeline, window_date)
        );";

pub(super) const X12_CONTROL_NUMBERS: &str = "CREATE TABLE IF NOT EXISTS x12_control_numbers (
            partner TEXT PRIMARY KEY,
            last_interchange INTEGER NOT NULL,
            last_group INTEGER NOT NULL
        );";

pub(super) const SFTP_KEPT: &str = "CREATE TABLE IF NOT EXISTS sftp_kept (
            pipeline TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
            PRIMARY KEY (pipeline, name, size, mtime));";

pub(super) const OPEN_ITEMS: &str = "CREATE TABLE IF NOT EXISTS open_item_observations (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            pipeline TEXT NOT NULL,
            item_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            amount TEXT,
            currency TEXT,
            source TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS open_item_observations_by_run ON open_item_observations (run_id);
        -- Keys a run saw in good order that were open items then (pipelines whose items close
        -- only when matched: a settlement pays some orders).
        CREATE TABLE IF NOT EXISTS open_item_matched (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            item_key TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS open_item_matched_by_run ON open_item_matched (run_id);
        CREATE TABLE IF NOT EXISTS open_items (
            id INTEGER PRIMARY KEY,
            pipeline TEXT NOT NULL,
            item_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            open_since TEXT NOT NULL,
            amount TEXT,
            currency TEXT,
            note TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (pipeline, item_key, kind)
        );
        CREATE TABLE IF NOT EXISTS open_item_actions (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES open_items(id),
            decision TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT NOT NULL,
            at TEXT NOT NULL,
            after_date TEXT NOT NULL
        );
        -- How far each pipeline's saved book has folded: the last run (seq) and action (id).
        CREATE TABLE IF NOT EXISTS open_item_books (
            pipeline TEXT PRIMARY KEY,
            runs_seq INTEGER NOT NULL,
            actions_id INTEGER NOT NULL
        );";

pub(super) const ORDERS: &str = "CREATE TABLE IF NOT EXISTS order_events (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,
            event TEXT NOT NULL,
            content_hash TEXT,
            version INTEGER NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            pipeline TEXT NOT NULL,
            file_id INTEGER,
            file_name TEXT NOT NULL,
            line INTEGER,
            detail TEXT,
            content TEXT,
            at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events (channel, order_id);
        CREATE INDEX IF NOT EXISTS order_events_by_run ON order_events (run_id);
        CREATE TABLE IF NOT EXISTS orders (
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,
            state TEXT NOT NULL,
            content_hash TEXT,
            version INTEGER NOT NULL,
            pending_amendment TEXT,
            first_run TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (channel, order_id)
        );
        -- What each shipment file shipped of an order taken, per SKU (its lines summed).
        CREATE TABLE IF NOT EXISTS order_shipped (
            channel TEXT NOT NULL,
            order_id TEXT NOT NULL,
            sku TEXT NOT NULL,
            quantity TEXT NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            file_id INTEGER,
            file_name TEXT NOT NULL,
            line INTEGER
        );
        CREATE INDEX IF NOT EXISTS order_shipped_by_order ON order_shipped (channel, order_id);";

pub(super) const CATALOGS: &str = "CREATE TABLE IF NOT EXISTS catalog_versions (
            source TEXT NOT NULL,
            version INTEGER NOT NULL,
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            path TEXT NOT NULL,
            items INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            accepted_at TEXT NOT NULL,
            PRIMARY KEY (source, version)
        );
        CREATE INDEX IF NOT EXISTS catalog_versions_by_run ON catalog_versions (run_id);
        CREATE TABLE IF NOT EXISTS catalog_holds (
            run_id TEXT PRIMARY KEY REFERENCES runs(run_id),
            pipeline TEXT NOT NULL,
            file_id INTEGER NOT NULL REFERENCES files(id),
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            held_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS catalog_approvals (
            file_id INTEGER NOT NULL REFERENCES files(id),
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            actor TEXT NOT NULL,
            approved_at TEXT NOT NULL
        );";

/// Version 6 on PostgreSQL: each row's place in its run (SQLite's is
/// `store/migrations.rs::seq_columns`, which looks first and numbers older rows by rowid).
pub(super) const SEQ_COLUMNS: &str =
    "ALTER TABLE outbound ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE issues ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE open_item_observations ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;";
