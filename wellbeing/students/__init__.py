"""Students: roster import (parsing, validation) and the student register."""
