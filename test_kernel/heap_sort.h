// In-place heapsort: O(n log n) worst case, no recursion, no allocation
// (the freestanding kernel has neither a heap nor std::sort).
#pragma once
#include <stddef.h>

namespace tk {

template <class T, class Less>
void heap_sort(T* a, size_t n, Less less) {
    auto sift = [&](size_t root, size_t end) {
        for (;;) {
            size_t child = 2 * root + 1;
            if (child >= end) return;
            if (child + 1 < end && less(a[child], a[child + 1])) ++child;
            if (!less(a[root], a[child])) return;
            T t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    };
    for (size_t i = n / 2; i-- > 0;) sift(i, n);
    for (size_t end = n; end > 1; --end) {
        T t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sift(0, end - 1);
    }
}

}  // namespace tk
