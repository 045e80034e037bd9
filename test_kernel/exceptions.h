// An IDT whose every exception vector reports the fault on the serial line
// and ends the test as failed (see exception_entry.S for why).
#pragma once

namespace tk {

void exceptions_init();

}  // namespace tk
