#include <CppUTest/TestHarness.h>
#include "mapptrack/status.h"
TEST_GROUP(status_stub){};
