#include <CppUTest/TestHarness.h>
#include "mapptrack/status_format.h"
TEST_GROUP(status_format_stub){};
