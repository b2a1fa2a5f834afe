#include <CppUTest/TestHarness.h>
#include "mapptrack/inspect.h"
TEST_GROUP(inspect_stub){};
