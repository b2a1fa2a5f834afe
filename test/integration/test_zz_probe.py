import time, os
def test_probe(httpd):
    httpd.start("")
    r = httpd.get("/page.html?m=1"); print(r)
    print(httpd.post("/page.html", b"a=1"))
    print(httpd.post("/page.shtml", b"a=1"))
    print(httpd.head("/page.html"))
    httpd.graceful(); httpd.graceful()
    httpd.restart()
    time.sleep(0.5)
    print(httpd.access_log())
    print(httpd.error_log())
    httpd.graceful_stop()
    print(httpd.error_log())
