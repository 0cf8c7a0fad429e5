/**
 * Time as a component: the wall-limit watchdog and the run deadline take
 * their timers from a Clock, so tests decide when a limit expires instead
 * of racing the machine's load. The one Clock of the code base lives in
 * src/core/clock.ts; this module re-exports it for exec/.
 */
export { systemClock, FakeClock, clockSleep, clockInterval, timeoutSignal, type Clock, type TimerHandle } from '../core/clock.js'
