"""Names every step agrees on: groups, columns, class orders."""

GROUPS = ("unlabeled", "risky", "dormant", "normal", "heavy")
LABELLED_GROUPS = ("dormant", "normal", "heavy", "risky")
UNLABELED_GROUP = "unlabeled"
POSITIVE_CLASS = "risky"

ID_COLUMN = "player_id"
WEEK_COLUMN = "week"
LABEL_COLUMN = "label"

# Weekly telemetry columns of the `telemetry` input format, in this order.
TELEMETRY_COLUMNS = (
    "sessions",
    "minutes_played",
    "deposits",
    "deposit_amount",
    "bets",
    "net_loss",
    "night_share",
)

# Output order of the discriminator's two heads.
SUPERVISED_CLASSES = ("dormant", "normal", "heavy", "risky", "unknown")
UNSUPERVISED_CLASSES = ("healthy", "unknown", "fake")
RISKY_INDEX = SUPERVISED_CLASSES.index("risky")
UNKNOWN_INDEX = SUPERVISED_CLASSES.index("unknown")

INPUT_FORMATS = ("telemetry", "features")
