// Hit lines from outside: relayed lines and spool records (hit_line.h).
#include "mapptrack/hit_line.h"

#include <CppUTest/TestHarness.h>
