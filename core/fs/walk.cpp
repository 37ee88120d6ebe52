#include "core/fs/walk.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "core/util/error.hpp"

namespace cairn::fs {

std::vector<DirEntry> list_dir(const std::filesystem::path& dir) {
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) fail_errno("cannot list directory " + dir.string(), errno);
    std::vector<DirEntry> out;
    errno = 0;
    while (struct dirent* ent = ::readdir(handle)) {
        std::string_view name = ent->d_name;
        if (name == "." || name == "..") continue;
        EntryType type = EntryType::other;
        unsigned char d_type = ent->d_type;
        if (d_type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(::dirfd(handle), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISREG(st.st_mode)) d_type = DT_REG;
                else if (S_ISDIR(st.st_mode)) d_type = DT_DIR;
                else if (S_ISLNK(st.st_mode)) d_type = DT_LNK;
            }
        }
        if (d_type == DT_REG) type = EntryType::file;
        else if (d_type == DT_DIR) type = EntryType::directory;
        else if (d_type == DT_LNK) type = EntryType::symlink;
        out.push_back({std::string(name), type});
    }
    int err = errno;
    ::closedir(handle);
    if (err != 0) fail_errno("cannot list directory " + dir.string(), err);
    std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return out;
}

} // namespace cairn::fs
