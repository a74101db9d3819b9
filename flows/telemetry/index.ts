// Step L's face to the other steps: the debug container capture behind the "Debug container" button.
export { debugContainerCapture } from './debug.ts';
