#pragma once
// libcurl, loaded at run time (dlopen "libcurl.so.4") the first time an S3 remote is used, so
// that every other command starts without the dozen shared libraries libcurl pulls in. Only the
// functions the S3 backend calls are resolved; the types come from <curl/curl.h>.

#include <curl/curl.h>

namespace cairn::remote::curl {

struct Api {
    CURL* (*easy_init)();
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    void (*easy_reset)(CURL*);
    void (*easy_cleanup)(CURL*);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
};

// The loaded library, initialised once (curl_global_init) and never unloaded. Thread-safe.
// Throws Error(environment) "S3 needs libcurl (libcurl4): <dlerror>" when it cannot be loaded.
[[nodiscard]] const Api& api();

// This thread's easy handle, reset for a new request (a handle keeps its connections alive
// between requests; handles are never shared between threads). Throws like api().
[[nodiscard]] CURL* thread_handle();

} // namespace cairn::remote::curl
