#include <CppUTest/TestHarness.h>
#include "mapptrack/inspect_page.h"
TEST_GROUP(inspect_page_stub){};
