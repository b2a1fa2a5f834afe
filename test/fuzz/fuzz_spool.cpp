// Spool records (spool.h): decoding any bytes never crashes and what it
// decodes encodes and decodes again to the same; encode→decode gives back
// every stored field of a Delivery (and default options, which are not
// stored); good records around garbage (without "MTS") are all recovered, in
// order, with exactly the garbage counted as skipped; a torn last record
// loses only itself.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "fuzz_common.h"
#include "mapptrack/spool.h"

using namespace mapptrack;
using fuzz::check;

namespace {

bool same_stored(const Delivery& a, const Delivery& b) {
    return a.endpoint == b.endpoint && a.line == b.line && a.cookies == b.cookies && a.queued_ms == b.queued_ms &&
           a.visitor == b.visitor && a.attempts == b.attempts;
}

bool default_options(const Delivery& d) {
    const DeliveryOptions o;
    return d.options.timeout_ms == o.timeout_ms && d.options.batch_size == o.batch_size &&
           d.options.batch_delay_ms == o.batch_delay_ms && d.options.proxy == o.proxy;
}

std::string describe(const Delivery& d) {
    return "endpoint=" + d.endpoint + " line=" + d.line + " cookies=" + d.cookies +
           " queued_ms=" + std::to_string(d.queued_ms) + " visitor=" + std::to_string(d.visitor) +
           " attempts=" + std::to_string(d.attempts);
}

Delivery make_delivery(FuzzedDataProvider& in) {
    Delivery d;
    d.endpoint = in.ConsumeBool() ? std::string("https://track.example/111,222") : in.ConsumeRandomLengthString(64);
    d.line = in.ConsumeBool() ? "wt?p=300,page,0,0,0,0,1732838400123,0&eor=1" : in.ConsumeRandomLengthString(300);
    d.cookies = in.ConsumeBool() ? std::string() : in.ConsumeRandomLengthString(64);
    d.queued_ms = in.ConsumeIntegral<std::int64_t>();
    d.visitor = in.ConsumeIntegral<std::uint64_t>();
    d.attempts = in.ConsumeIntegral<unsigned>();
    // Not stored: must come back as the defaults.
    d.options.timeout_ms = in.ConsumeIntegral<unsigned>();
    d.options.batch_size = in.ConsumeIntegral<unsigned>();
    d.options.proxy = in.ConsumeBool() ? "http://proxy.example:3128" : "";
    return d;
}

// Arbitrary text that does not contain "MTS" (nor, so, a record's magic).
std::string garbage(FuzzedDataProvider& in) {
    std::string g = in.ConsumeRandomLengthString(64);
    for (std::size_t at; (at = g.find("MTS")) != std::string::npos;) g[at + 2] = 's';
    return g;
}

void fuzz_decode(const std::string& data) {
    std::size_t skipped = 12345678;
    const std::vector<Delivery> records = decode_spool_records(data, &skipped);
    check(skipped <= data.size(), "skipped_bytes is more than the data");
    if (data.empty()) check(records.empty() && skipped == 0, "records or skipped bytes from no data");
    for (const Delivery& d : records) {
        check(default_options(d), "a decoded record has options that are not the defaults", describe(d));
        const std::string again = encode_spool_record(d);
        std::size_t skipped2 = 1;
        const std::vector<Delivery> back = decode_spool_records(again, &skipped2);
        check(back.size() == 1 && skipped2 == 0 && same_stored(back[0], d),
              "a decoded record does not survive encode→decode", describe(d));
    }
    (void)decode_spool_records(data, nullptr);  // the counter is optional
}

void fuzz_round_trip(FuzzedDataProvider& in) {
    const int n = in.ConsumeIntegralInRange<int>(1, 5);
    const bool torn = in.ConsumeBool();
    std::vector<Delivery> written;
    std::string data;
    std::size_t garbage_bytes = 0;
    std::size_t last_start = 0;
    for (int i = 0; i < n; ++i) {
        const std::string before = garbage(in);
        data += before;
        garbage_bytes += before.size();
        written.push_back(make_delivery(in));
        const std::string record = encode_spool_record(written.back());
        check(record.size() >= 12 && record.compare(0, 3, "MTS") == 0, "a record does not start with the magic");
        // One record alone decodes to itself.
        std::size_t skipped = 1;
        const std::vector<Delivery> one = decode_spool_records(record, &skipped);
        check(one.size() == 1 && skipped == 0, "a single record does not decode", describe(written.back()));
        check(same_stored(one[0], written.back()), "encode→decode changes a record",
              describe(written.back()) + " -> " + describe(one[0]));
        check(default_options(one[0]), "a decoded record has options that are not the defaults");
        last_start = data.size();
        data += record;
    }
    const std::string after = torn ? std::string() : garbage(in);
    data += after;
    garbage_bytes += after.size();
    if (torn) {
        // Cut the last record somewhere inside it.
        const std::size_t record_size = data.size() - last_start;
        data.resize(last_start + in.ConsumeIntegralInRange<std::size_t>(0, record_size - 1));
    }

    std::size_t skipped = 0;
    const std::vector<Delivery> got = decode_spool_records(data, &skipped);
    const std::size_t whole = torn ? written.size() - 1 : written.size();
    check(got.size() >= whole, "good records around garbage are lost",
          std::to_string(got.size()) + " of " + std::to_string(whole));
    for (std::size_t i = 0; i < whole; ++i) {
        check(same_stored(got[i], written[i]), "a record around garbage is changed or out of order",
              describe(written[i]) + " -> " + describe(got[i]));
    }
    if (!torn) {
        // (A torn record's own payload may hold a whole record: that one may come back.)
        check(got.size() == whole, "records decoded from garbage");
        check(skipped == garbage_bytes, "skipped_bytes is not the garbage's size",
              std::to_string(skipped) + " != " + std::to_string(garbage_bytes));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        fuzz_decode({});
        return 0;
    }
    if (data[0] & 1) {
        fuzz_decode(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    } else {
        FuzzedDataProvider in(data + 1, size - 1);
        fuzz_round_trip(in);
    }
    return 0;
}
