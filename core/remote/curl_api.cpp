#include "core/remote/curl_api.hpp"

#include "core/util/error.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace cairn::remote::curl {
namespace {

template <typename F>
void resolve(void* library, F& slot, const char* name) {
    void* symbol = dlsym(library, name);
    if (symbol == nullptr) fail(ErrorKind::environment, "S3 needs libcurl (libcurl4): {} has no {}", "libcurl.so.4", name);
    slot = reinterpret_cast<F>(symbol);
}

Api load() {
    // RTLD_LOCAL: libcurl's own dependencies (OpenSSL among them) are not mixed into the global
    // namespace; cairn links its own OpenSSL for hashing.
    void* library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char* why = dlerror();
        fail(ErrorKind::environment, "S3 needs libcurl (libcurl4): {}", why != nullptr ? why : "cannot load libcurl.so.4");
    }
    Api api{};
    resolve(library, api.easy_init, "curl_easy_init");
    resolve(library, api.easy_setopt, "curl_easy_setopt");
    resolve(library, api.easy_perform, "curl_easy_perform");
    resolve(library, api.easy_getinfo, "curl_easy_getinfo");
    resolve(library, api.easy_reset, "curl_easy_reset");
    resolve(library, api.easy_cleanup, "curl_easy_cleanup");
    resolve(library, api.easy_strerror, "curl_easy_strerror");
    resolve(library, api.slist_append, "curl_slist_append");
    resolve(library, api.slist_free_all, "curl_slist_free_all");
    CURLcode (*global_init)(long) = nullptr;
    resolve(library, global_init, "curl_global_init");
    // Not thread-safe in libcurl: done once, under the once-flag below.
    if (CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
        fail(ErrorKind::environment, "S3 needs libcurl (libcurl4): curl_global_init failed: {}", api.easy_strerror(rc));
    }
    return api;
}

struct Handle {
    CURL* curl = nullptr;
    ~Handle() {
        if (curl != nullptr) api().easy_cleanup(curl);
    }
};

} // namespace

const Api& api() {
    static std::once_flag once;
    static Api loaded{};
    static std::string failure;
    static ErrorKind failure_kind = ErrorKind::environment;
    std::call_once(once, [] {
        try {
            loaded = load();
        } catch (const Error& e) {
            failure = e.what();
            failure_kind = e.kind();
        }
    });
    if (!failure.empty()) throw Error(failure_kind, failure);
    return loaded;
}

CURL* thread_handle() {
    const Api& curl = api();
    thread_local Handle handle;
    if (handle.curl == nullptr) {
        handle.curl = curl.easy_init();
        if (handle.curl == nullptr) fail(ErrorKind::environment, "S3: curl_easy_init failed");
    } else {
        curl.easy_reset(handle.curl);
    }
    return handle.curl;
}

} // namespace cairn::remote::curl
