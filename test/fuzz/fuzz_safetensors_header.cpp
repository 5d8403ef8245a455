// libFuzzer: the safetensors header parser must accept or throw hfhub::error, never crash.
#include <hfhub/safetensors.hpp>
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto f = hfhub::safetensors::file::over(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size));
        for (const auto& [name, view] : f.tensors()) (void)view.element_count();
    } catch (const hfhub::error&) {
    }
    return 0;
}
