// Runs the core's unit tests. APR is initialised around the run because the
// dispatcher starts APR threads; the delivery tests start threads, so the
// memory-leak detector's new/delete overloads must be thread-safe.
#include <apr_general.h>

#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int ac, char** av)
{
    if (apr_initialize() != APR_SUCCESS)
        return 2;
    MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
    int rc = CommandLineTestRunner::RunAllTests(ac, av);
    apr_terminate();
    return rc;
}
