// Hit lines from outside the module (hit_line.h).
#include "mapptrack/hit_line.h"
