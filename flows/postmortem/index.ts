// The post-mortem's face to the other steps: the document and its Markdown (integrations publish and serve them).
export { buildPostmortem } from './model.ts';
export type { FollowUp } from './model.ts';
export { renderMarkdown } from './markdown.ts';
