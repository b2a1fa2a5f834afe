#include <CppUTest/TestHarness.h>
#include "mapptrack/inspect_store.h"
TEST_GROUP(inspect_store_stub){};
